//! Rendered user-data against the real `cloud-init schema` (Debian's cloud-init package), for
//! every combination of distribution family, brick device, repository and extra user-data; plus
//! what each document must say, and Nova's size limit.

mod bootstrap_support;

use std::process::Command;

use bootstrap_support::{require_tool, run};
use gluster_operator::api::GlusterSpec;
use gluster_operator::bootstrap::{
    BRICK_SCRIPT, BRICK_SCRIPT_PATH, BootstrapError, BrickDevice, BrickScriptParams, DistroFamily,
    GLUSTER_CLI, NOVA_USER_DATA_LIMIT, NodeBootstrap, OPERATOR_USER, SshKeyPair, UserData,
    render_user_data,
};
use serde_yaml::Value;

const VOLUME_ID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

const EXTRA: &str = "#cloud-config
packages: [htop]
timezone: Etc/UTC
runcmd:
  - [touch, /var/lib/extra-done]
write_files:
  - path: /etc/motd
    content: |
      managed by gluster-operator
ssh_pwauth: false
";

/// Validates a document with `cloud-init schema --config-file`: the exit code must be 0 and the
/// output must say it is valid.
fn cloud_init_schema(name: &str, doc: &str) -> Result<(), String> {
    require_tool("cloud-init");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&path, doc).expect("write user-data");
    let out = run(Command::new("cloud-init")
        .arg("schema")
        .arg("--config-file")
        .arg(&path));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && stdout.contains("Valid cloud-config") {
        Ok(())
    } else {
        Err(format!(
            "cloud-init schema rejected {name} ({}):\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        ))
    }
}

fn node(distro: DistroFamily, device: BrickDevice) -> NodeBootstrap {
    let operator = SshKeyPair::generate("gluster-operator@demo").expect("operator key");
    NodeBootstrap {
        cluster_name: "demo".into(),
        node_name: "demo-zone-a-0".into(),
        distro,
        gluster: GlusterSpec::default(),
        device,
        mount_path: "/export/vol0".into(),
        operator_key: operator.public_key().clone(),
        host_key: SshKeyPair::generate("demo-zone-a-0").expect("host key"),
        extra_user_data: None,
        glusterd_uuid: Some("6f1c2a57-3f0e-5b8e-9a51-0c5d1e2f3a4b".into()),
        glusterd_peers: vec![(
            "0a1b2c3d-0000-4000-8000-000000000002".into(),
            "10.0.0.7".into(),
        )],
        tls: None,
    }
}

fn parse(user_data: &UserData) -> Value {
    serde_yaml::from_str(user_data.as_str()).expect("rendered user-data is YAML")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("expected a list, got {v:?}"))
        .iter()
        .map(|i| {
            i.as_str()
                .unwrap_or_else(|| panic!("expected a string, got {i:?}"))
                .to_string()
        })
        .collect()
}

/// The checks every rendered document must pass, whatever the combination.
fn check_document(n: &NodeBootstrap, user_data: &UserData) {
    let text = user_data.as_str();
    assert!(text.starts_with("#cloud-config\n"));
    assert!(user_data.base64_len() <= NOVA_USER_DATA_LIMIT);
    let doc = parse(user_data);

    // The control user: the operator's key, passwordless sudo for the gluster CLI only.
    let users = doc["users"].as_sequence().expect("users");
    assert_eq!(users[0], Value::from("default"));
    let op = users
        .iter()
        .find(|u| u["name"] == OPERATOR_USER)
        .expect("operator user");
    assert_eq!(
        strings(&op["ssh_authorized_keys"]),
        [n.operator_key.openssh()]
    );
    assert_eq!(
        op["sudo"],
        Value::from(format!("ALL=(root) NOPASSWD: {GLUSTER_CLI}"))
    );
    assert_eq!(op["lock_passwd"], Value::from(true));

    // The host key the operator pins, and nothing else left on the node.
    assert_eq!(doc["ssh_deletekeys"], Value::from(true));
    assert_eq!(
        doc["ssh_keys"]["ed25519_private"].as_str(),
        Some(n.host_key.private_openssh())
    );
    assert_eq!(
        doc["ssh_keys"]["ed25519_public"].as_str(),
        Some(n.host_key.public_key().openssh())
    );
    assert_eq!(doc["ssh_pwauth"], Value::from(false));

    // The brick script, verbatim, and runcmd running it with this node's arguments.
    let script = doc["write_files"]
        .as_sequence()
        .expect("write_files")
        .iter()
        .find(|f| f["path"] == BRICK_SCRIPT_PATH)
        .expect("brick script in write_files");
    assert_eq!(script["content"].as_str(), Some(BRICK_SCRIPT));
    assert_eq!(script["permissions"], Value::from("0755"));
    let runcmd = doc["runcmd"].as_sequence().expect("runcmd");
    assert_eq!(
        runcmd[0],
        Value::from("set -e"),
        "runcmd stops at the first failure"
    );
    let mut want = vec![BRICK_SCRIPT_PATH.to_string()];
    let mut params = BrickScriptParams::new(n.device.clone(), n.mount_path.clone());
    params.glusterd_uuid = n.glusterd_uuid.clone();
    params.peers = n.glusterd_peers.clone();
    want.extend(params.args());
    let brick_cmd = runcmd
        .iter()
        .position(|c| {
            c.as_sequence().and_then(|s| s.first()) == Some(&Value::from(BRICK_SCRIPT_PATH))
        })
        .expect("runcmd runs the brick script");
    assert_eq!(strings(&runcmd[brick_cmd]), want);
    assert!(want.contains(&"--start-glusterd".to_string()));

    // Gluster comes from where the spec says.
    let packages = strings(&doc["packages"]);
    assert!(packages.contains(&"xfsprogs".to_string()));
    match n.distro {
        DistroFamily::Debian => {
            assert!(packages.contains(&"glusterfs-server".to_string()));
            match &n.gluster.repository {
                Some(repo) => assert_eq!(
                    doc["apt"]["sources"]["gluster"]["source"].as_str(),
                    Some(repo.as_str())
                ),
                None => assert!(doc.get("apt").is_none()),
            }
        }
        DistroFamily::El => {
            let release = n
                .gluster
                .repository
                .as_deref()
                .unwrap_or("centos-release-gluster11");
            let dnf: Vec<Vec<String>> = runcmd[1..brick_cmd].iter().map(strings).collect();
            let server = match &n.gluster.version {
                Some(v) => format!("glusterfs-server-{v}"),
                None => "glusterfs-server".to_string(),
            };
            assert_eq!(
                dnf,
                [
                    vec![
                        "dnf".to_string(),
                        "-y".into(),
                        "install".into(),
                        release.into()
                    ],
                    vec!["dnf".to_string(), "-y".into(), "install".into(), server],
                ],
                "EL installs the release package, then the server, before the brick script"
            );
        }
    }
}

#[test]
fn every_combination_passes_cloud_init_schema() {
    let mut checked = 0;
    for distro in [DistroFamily::Debian, DistroFamily::El] {
        for device in [
            BrickDevice::Volume {
                id: VOLUME_ID.into(),
            },
            BrickDevice::Ephemeral,
        ] {
            for repository in [false, true] {
                for extra in [false, true] {
                    let mut n = node(distro, device.clone());
                    if repository {
                        n.gluster = GlusterSpec {
                            repository: Some(match distro {
                                DistroFamily::Debian => "ppa:gluster/glusterfs-11".into(),
                                DistroFamily::El => "centos-release-gluster10".into(),
                            }),
                            version: Some("11.1".into()),
                        };
                    }
                    if extra {
                        n.extra_user_data = Some(EXTRA.into());
                    }
                    let name = format!(
                        "{distro}-{}-{}-{}",
                        if matches!(device, BrickDevice::Ephemeral) {
                            "ephemeral"
                        } else {
                            "volume"
                        },
                        if repository { "repo" } else { "distro" },
                        if extra { "extra" } else { "plain" }
                    );
                    let user_data = render_user_data(&n).unwrap_or_else(|e| panic!("{name}: {e}"));
                    check_document(&n, &user_data);
                    if let Err(e) = cloud_init_schema(&name, user_data.as_str()) {
                        panic!("{e}\n--- document ---\n{}", user_data.as_str());
                    }
                    eprintln!(
                        "{name}: {} bytes, {} base64",
                        user_data.len(),
                        user_data.base64_len()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 16);
}

#[test]
fn the_schema_check_rejects_an_invalid_document() {
    // The validator used above really can fail: a user whose sudo rule is a number is invalid.
    let err = cloud_init_schema(
        "broken",
        "#cloud-config\nusers: [{name: x, sudo: 5}]\npackages: 3\n",
    )
    .expect_err("cloud-init schema must reject this");
    assert!(err.contains("packages"), "{err}");
}

#[test]
fn extra_user_data_is_merged_after_the_operators_own() {
    let mut n = node(
        DistroFamily::Debian,
        BrickDevice::Volume {
            id: VOLUME_ID.into(),
        },
    );
    n.extra_user_data = Some(EXTRA.into());
    let doc = parse(&render_user_data(&n).expect("render"));
    assert_eq!(
        strings(&doc["packages"]),
        ["glusterfs-server", "xfsprogs", "htop"]
    );
    assert_eq!(doc["timezone"], Value::from("Etc/UTC"));
    let runcmd = doc["runcmd"].as_sequence().expect("runcmd");
    assert_eq!(
        strings(runcmd.last().expect("last command")),
        ["touch", "/var/lib/extra-done"],
        "the user's commands run after the brick is ready"
    );
    let files: Vec<&str> = doc["write_files"]
        .as_sequence()
        .expect("write_files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(files, [BRICK_SCRIPT_PATH, "/etc/motd"]);
}

#[test]
fn debian_version_pins_every_glusterfs_package() {
    let mut n = node(DistroFamily::Debian, BrickDevice::Ephemeral);
    n.gluster.version = Some("10.3".into());
    let doc = parse(&render_user_data(&n).expect("render"));
    let pin = doc["write_files"]
        .as_sequence()
        .expect("write_files")
        .iter()
        .find(|f| f["path"] == "/etc/apt/preferences.d/gluster-operator-glusterfs")
        .expect("apt pin");
    let content = pin["content"].as_str().expect("pin content");
    assert!(
        content.contains("\nPin: version 10.3*\nPin-Priority: 1001\n"),
        "{content}"
    );
    assert!(
        content.contains("Package: glusterfs-* libglusterfs*"),
        "{content}"
    );
}

#[test]
fn over_novas_limit_is_a_clear_error() {
    let mut n = node(
        DistroFamily::El,
        BrickDevice::Volume {
            id: VOLUME_ID.into(),
        },
    );
    let base = render_user_data(&n).expect("render");
    eprintln!(
        "plain EL user-data: {} bytes, {} base64",
        base.len(),
        base.base64_len()
    );
    assert!(
        base.base64_len() < NOVA_USER_DATA_LIMIT / 2,
        "the operator's own part stays small"
    );

    let big = format!(
        "write_files:\n  - path: /etc/big\n    content: {}\n",
        "x".repeat(NOVA_USER_DATA_LIMIT)
    );
    n.extra_user_data = Some(big);
    match render_user_data(&n) {
        Err(e @ BootstrapError::TooLarge { base64_len, .. }) => {
            assert!(base64_len > NOVA_USER_DATA_LIMIT);
            let msg = e.to_string();
            assert!(
                msg.contains("demo-zone-a-0") && msg.contains("65535"),
                "{msg}"
            );
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}
