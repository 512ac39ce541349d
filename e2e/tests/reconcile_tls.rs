//! Gluster TLS end to end (`docs/design.md`, "Gluster TLS"): a cluster built with the default
//! (`spec.volume.tls` unset: on) from real loopback nodes (real glusterd reading the
//! certificate, key, CA bundle and `secure-access` that the operator put in their user-data)
//! becomes Ready with `client.ssl`/`server.ssl` on and `auth.ssl-allow` naming its nodes and
//! its client; a real FUSE client with the files of the `<name>-client-tls` Secret writes and
//! reads back an `e2e::data::Manifest`; a client without a certificate, and one whose
//! certificate (same CN) comes from another CA, are refused. A scale-out then adds nodes with
//! certificates of the same CA, keeps every certificate already issued, names the new nodes in
//! `auth.ssl-allow`, and loses nothing (0 lost, 0 changed through the mount that lived through
//! it and a fresh one). Needs root: it fails, never skips.
//!
//! Each client mounts in a mount namespace of its own whose `/usr/lib/ssl` (an overlay) and
//! `/var/lib/glusterd` hold its files, as a client machine would have them: this machine's own
//! directories, which other tests' plain clients use, stay untouched.

mod reconcile_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use e2e::data::{Check, Manifest};
use gluster_operator::gluster::xml::parse_volume_info;
use gluster_operator::tls::{CertificateAuthority, Subject, TlsFiles};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use reconcile_support::gluster::{LoopbackGluster, start_gluster_world};
use reconcile_support::{World, condition, example_with_tls};

/// A FUSE mount made in a mount namespace of its own (held by a `sleep`), with the client's
/// TLS files in its `/usr/lib/ssl` and `secure-access` in its `/var/lib/glusterd`.
struct ClientMount {
    holder: Child,
    target: PathBuf,
}

impl ClientMount {
    /// Mounts `spec` at `dir/mnt` in a new mount namespace; `files`: the client's TLS files
    /// (`None`: a client without TLS, as a plain machine mounts).
    fn new(
        spec: &str,
        backups: &[String],
        files: Option<&TlsFiles>,
        dir: &Path,
    ) -> Result<Self, String> {
        let upper = dir.join("ssl-upper");
        let work = dir.join("ssl-work");
        let glusterd = dir.join("glusterd");
        let target = dir.join("mnt");
        for d in [&upper, &work, &glusterd, &target] {
            std::fs::create_dir_all(d).expect("client dirs");
        }
        if let Some(files) = files {
            std::fs::write(upper.join("glusterfs.pem"), &files.pem).expect("pem");
            std::fs::write(upper.join("glusterfs.key"), files.key.as_bytes()).expect("key");
            std::fs::write(upper.join("glusterfs.ca"), &files.ca).expect("ca");
            std::fs::write(glusterd.join("secure-access"), "").expect("secure-access");
        }
        let overlay = format!(
            "lowerdir=/usr/lib/ssl,upperdir={},workdir={}",
            upper.display(),
            work.display()
        );
        let backup = if backups.is_empty() {
            String::new()
        } else {
            format!("-o backup-volfile-servers={}", backups.join(":"))
        };
        let script = format!(
            "set -e\n\
             mount -t overlay overlay -o {} /usr/lib/ssl\n\
             mount --bind {} /var/lib/glusterd\n\
             timeout 90 mount -t glusterfs {backup} {spec} {}\n\
             echo mounted\n\
             exec sleep 100000\n",
            overlay,
            glusterd.display(),
            target.display(),
        );
        let mut holder = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                &script,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("unshare: {e}"))?;
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        if line.trim() != "mounted" {
            let out = holder.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "mount -t glusterfs {spec}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(ClientMount { holder, target })
    }

    /// The mount point as this process reaches it (through the holder's root).
    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.holder.id()))
            .join(self.target.strip_prefix("/").expect("absolute"))
    }
}

impl Drop for ClientMount {
    fn drop(&mut self) {
        let _ = Command::new("nsenter")
            .args([
                "-t",
                &self.holder.id().to_string(),
                "-m",
                "--",
                "umount",
                "-l",
            ])
            .arg(&self.target)
            .status();
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The client's files as the `<name>-client-tls` Secret holds them.
fn client_files(secret: &Secret) -> TlsFiles {
    let data = secret.data.clone().expect("client Secret data");
    let text = |k: &str| {
        String::from_utf8(data.get(k).unwrap_or_else(|| panic!("{k}")).0.clone()).expect("UTF-8")
    };
    TlsFiles {
        pem: text("glusterfs.pem"),
        key: text("glusterfs.key").into(),
        ca: text("glusterfs.ca"),
    }
}

/// Asserts that a client is refused: its mount fails, or nothing of `manifest` can be read
/// through it.
fn assert_refused(what: &str, mount: Result<ClientMount, String>, manifest: &Manifest) {
    match mount {
        Err(e) => eprintln!("{what}: refused at mount: {e}"),
        Ok(m) => {
            let check: Check = manifest.check(&m.path());
            assert_eq!(
                (check.checked, check.lost.len()),
                (manifest.len(), manifest.len()),
                "{what}: the mount succeeded and read {check:?}"
            );
            eprintln!("{what}: mounted but every read refused");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_serves_only_clients_with_its_certificate() {
    let (world, LoopbackGluster { nodes, scratch }) =
        start_gluster_world("reconcile-tls-", 0, World::start).await;
    let mut cluster = example_with_tls("2-nodes-replica-2.yaml");
    assert_eq!(
        cluster.spec.volume.tls, None,
        "the example leaves TLS to the default"
    );
    cluster.metadata.name = Some("tlsdemo".into());
    world.apply(&cluster).await;
    let ready = world
        .wait_for("tlsdemo", "Ready=True", |c| {
            condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    let uid = ready.uid().expect("uid");
    let status = ready.status.clone().expect("status");

    // The Secrets: owned by the cluster; the client's holds a certificate named in ssl-allow.
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), &world.ns);
    for name in ["tlsdemo-tls", "tlsdemo-client-tls"] {
        let secret = secrets
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            secret.owner_references().iter().any(|r| r.uid == uid),
            "{name} is owned by the cluster"
        );
    }
    let files = client_files(
        &secrets
            .get("tlsdemo-client-tls")
            .await
            .expect("client Secret"),
    );

    // The volume as gluster shows it: TLS on both sides, ssl-allow = the nodes and the client.
    let first = nodes.nodes().into_iter().next().expect("a node");
    assert!(
        first.path("/usr/lib/ssl/glusterfs.pem").exists(),
        "the node has its certificate"
    );
    assert!(first.path("/var/lib/glusterd/secure-access").exists());
    assert!(
        !Path::new("/usr/lib/ssl/glusterfs.pem").exists()
            || std::fs::read_to_string("/usr/lib/ssl/glusterfs.pem").ok()
                != Some(files.pem.clone()),
        "this machine's /usr/lib/ssl was not written"
    );
    let out = first
        .command("gluster")
        .args(["--mode=script", "--xml", "volume", "info", "pair"])
        .output()
        .expect("gluster");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = parse_volume_info(&String::from_utf8_lossy(&out.stdout))
        .expect("volume info parses")
        .into_iter()
        .next()
        .expect("the volume");
    assert_eq!(
        info.options.get("client.ssl").map(String::as_str),
        Some("on")
    );
    assert_eq!(
        info.options.get("server.ssl").map(String::as_str),
        Some("on")
    );
    let mut allow: Vec<String> = info
        .options
        .get("auth.ssl-allow")
        .expect("auth.ssl-allow")
        .split(',')
        .map(str::to_string)
        .collect();
    allow.sort();
    let mut want: Vec<String> = status.nodes.iter().map(|n| n.name.clone()).collect();
    want.push("tlsdemo-client".into());
    want.sort();
    assert_eq!(allow, want);

    // With the client Secret's files: data written, read back through this mount and a fresh one.
    let spec = status.mount.clone().expect("mount");
    let backups = status.backup_volfile_servers.clone();
    let manifest = {
        let mount = ClientMount::new(&spec, &backups, Some(&files), &scratch.path().join("c1"))
            .expect("a client with the certificate mounts");
        let manifest = Manifest::write(&mount.path(), "tls", 24, 64 << 10, 7).expect("written");
        manifest
            .check(&mount.path())
            .assert_intact("through the writing mount");
        manifest
    };
    let existing = ClientMount::new(&spec, &backups, Some(&files), &scratch.path().join("c2"))
        .expect("a fresh client with the certificate mounts");
    manifest
        .check(&existing.path())
        .assert_intact("through a fresh mount");

    // No certificate (a plain client, as this machine is): refused.
    assert_refused(
        "a client without TLS",
        ClientMount::new(&spec, &backups, None, &scratch.path().join("c3")),
        &manifest,
    );
    // The right CN, from another CA: refused.
    let other = CertificateAuthority::generate("tlsdemo", "another-uid", jiff::Timestamp::now())
        .expect("another CA");
    let forged = other
        .issue(&Subject::Client("tlsdemo".into()), jiff::Timestamp::now())
        .expect("a certificate of another CA");
    let forged = TlsFiles {
        pem: forged.cert_pem,
        key: forged.key_pem,
        ca: files.ca.clone(),
    };
    assert_refused(
        "a client whose certificate comes from another CA",
        ClientMount::new(&spec, &backups, Some(&forged), &scratch.path().join("c4")),
        &manifest,
    );

    // Scale-out: the new nodes get certificates of the same CA, join the TLS pool, and are
    // named in auth.ssl-allow before their bricks join; the old certificates are kept.
    let before = secrets
        .get("tlsdemo-tls")
        .await
        .expect("TLS Secret")
        .data
        .expect("data");
    let patch = serde_json::json!({"spec": {"zones": [{"name": "zone-a", "nodes": 4}]}});
    let patched = world
        .clusters
        .patch(
            "tlsdemo",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("patched");
    let generation = patched.metadata.generation;
    let scaled = world
        .wait_for("tlsdemo", "Ready=True at the new generation", move |c| {
            c.status.as_ref().and_then(|s| s.observed_generation) == generation
                && condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    let status = scaled.status.clone().expect("status");
    assert_eq!(status.nodes.len(), 4);
    let after = secrets
        .get("tlsdemo-tls")
        .await
        .expect("TLS Secret")
        .data
        .expect("data");
    for (key, value) in &before {
        assert_eq!(after.get(key), Some(value), "{key} kept as it was");
    }
    for node in &status.nodes {
        assert!(
            after.contains_key(&format!("node-{}.crt", node.name)),
            "{}",
            node.name
        );
    }
    let out = first
        .command("gluster")
        .args(["--mode=script", "--xml", "volume", "info", "pair"])
        .output()
        .expect("gluster");
    let info = parse_volume_info(&String::from_utf8_lossy(&out.stdout))
        .expect("volume info parses")
        .into_iter()
        .next()
        .expect("the volume");
    assert_eq!(info.bricks.len(), 4);
    let allow = info.options.get("auth.ssl-allow").expect("auth.ssl-allow");
    for node in &status.nodes {
        assert!(
            allow.split(',').any(|a| a == node.name),
            "{} in {allow}",
            node.name
        );
    }
    manifest
        .check(&existing.path())
        .assert_intact("through the mount that lived through the scale-out");
    let fresh = ClientMount::new(
        &status.mount.clone().expect("mount"),
        &status.backup_volfile_servers,
        Some(&files),
        &scratch.path().join("c5"),
    )
    .expect("a fresh client mounts after the scale-out");
    manifest
        .check(&fresh.path())
        .assert_intact("through a fresh mount after the scale-out");
    drop(fresh);
    drop(existing);

    world.stop().await;
    nodes.shutdown().expect("nodes stopped");
}
