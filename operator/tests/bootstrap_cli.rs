//! `gluster-operator render-user-data`, the real binary: nodes by name and by position, the
//! user's key, extra user-data, stdin, errors; its output passes `cloud-init schema`.

mod bootstrap_support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use bootstrap_support::{require_tool, run, run_ok};
use gluster_operator::bootstrap::SshKeyPair;

const MANIFEST: &str = "apiVersion: storage.glusterops.dev/v1alpha1
kind: GlusterCluster
metadata: {name: demo}
spec:
  cloud: {secretName: openstack, cloudName: sim}
  image: ubuntu-22.04
  flavor: m1.medium
  network: private
  zones:
  - {name: zone-a, nodes: 2, storage: Ephemeral}
  - {name: zone-b, nodes: 2, storage: Volume}
  brick: {size: 10Gi}
  volume: {name: data, replicas: 2}
  gluster: {repository: 'ppa:gluster/glusterfs-11', version: '11.1'}
";

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gluster-operator"))
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("cluster.yaml"), MANIFEST).expect("manifest");
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn render(&self, extra: &[&str]) -> Output {
        run(binary()
            .args(["render-user-data", "-f", &self.path("cluster.yaml")])
            .args(extra))
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn header(user_data: &str) -> &str {
    user_data.lines().nth(1).unwrap_or_default()
}

#[test]
fn renders_a_node_by_name_or_position_and_the_result_is_valid() {
    require_tool("cloud-init");
    let files = Files::new();
    let by_position = files.render(&["--node", "0"]);
    assert!(by_position.status.success(), "{}", stderr(&by_position));
    let text = stdout(&by_position);
    assert!(text.starts_with("#cloud-config\n"), "{text}");
    assert!(
        header(&text).contains("node demo-zone-a-1 of GlusterCluster demo; brick /export/data/brick on the ephemeral disk"),
        "{}",
        header(&text)
    );
    assert!(text.contains("- --ephemeral\n"), "{text}");
    assert!(text.contains("source: ppa:gluster/glusterfs-11"), "{text}");
    assert!(
        stderr(&by_position).contains("throwaway operator key"),
        "{}",
        stderr(&by_position)
    );

    let by_name = files.render(&["--node", "demo-zone-a-1"]);
    assert!(by_name.status.success(), "{}", stderr(&by_name));
    assert_eq!(header(&stdout(&by_name)), header(&text));
    assert_ne!(
        stdout(&by_name),
        text,
        "every run generates a fresh host key"
    );

    std::fs::write(files.path("node.yaml"), &text).expect("write output");
    let check = run_ok(
        Command::new("cloud-init")
            .args(["schema", "--config-file"])
            .arg(files.path("node.yaml")),
    );
    assert!(check.contains("Valid cloud-config"), "{check}");
}

#[test]
fn authorizes_the_given_key_and_merges_extra_user_data() {
    let files = Files::new();
    let key = SshKeyPair::generate("admin@laptop").expect("key");
    std::fs::write(
        files.path("id.pub"),
        format!("{}\n", key.public_key().openssh()),
    )
    .expect("pub");
    std::fs::write(
        files.path("extra.yaml"),
        "#cloud-config\npackages: [htop]\n",
    )
    .expect("extra");
    let volume = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    let out = files.render(&[
        "--node",
        "demo-zone-b-1",
        "--volume-id",
        volume,
        "--ssh-public-key",
        &files.path("id.pub"),
        "--extra-user-data",
        &files.path("extra.yaml"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(key.public_key().openssh()), "{text}");
    assert!(
        text.contains(&format!("- --volume-id\n  - {volume}\n")),
        "{text}"
    );
    assert!(text.contains("- htop\n"), "{text}");
    assert!(!stderr(&out).contains("throwaway"), "{}", stderr(&out));
}

#[test]
fn reads_the_manifest_from_stdin() {
    let mut child = binary()
        .args([
            "render-user-data",
            "-f",
            "-",
            "--node",
            "1",
            "--volume-id",
            "vol-1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(MANIFEST.as_bytes())
        .expect("write manifest");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        header(&stdout(&out)).contains("node demo-zone-b-1"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn errors_say_what_to_pass_and_print_no_user_data() {
    let files = Files::new();
    std::fs::write(files.path("bad.pub"), "ssh-ed25519 nonsense\n").expect("bad key");
    for (args, message) in [
        (
            vec!["--node", "9"],
            "--node 9: no such node; the cluster has demo-zone-a-1",
        ),
        (vec!["--node", "demo-zone-b-1"], "pass --volume-id ID"),
        (
            vec!["--node", "0", "--volume-id", "abc"],
            "--volume-id does not apply",
        ),
        (
            vec!["--node", "0", "--ssh-public-key", &files.path("bad.pub")],
            "not an OpenSSH public key",
        ),
        (
            vec![
                "--node",
                "0",
                "--ssh-public-key",
                &files.path("missing.pub"),
            ],
            "missing.pub",
        ),
    ] {
        let out = files.render(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?} printed user-data");
    }
}
