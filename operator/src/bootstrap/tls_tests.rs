//! The TLS files in a node's user-data.

use serde_yaml::Value;

use super::*;
use crate::api::GlusterSpec;
use crate::tls::{CA_PATH, ClusterTls, OWN_CERT_PATH, PRIVATE_KEY_PATH, SECURE_ACCESS_PATH};

fn node(tls: Option<crate::tls::TlsFiles>) -> NodeBootstrap {
    let operator = SshKeyPair::generate("gluster-operator@demo").expect("key");
    NodeBootstrap {
        cluster_name: "demo".into(),
        node_name: "demo-a-0".into(),
        distro: DistroFamily::Debian,
        gluster: GlusterSpec::default(),
        device: BrickDevice::Ephemeral,
        mount_path: "/export/vol".into(),
        operator_key: operator.public_key().clone(),
        host_key: SshKeyPair::generate("demo-a-0").expect("key"),
        extra_user_data: None,
        glusterd_uuid: None,
        glusterd_peers: Vec::new(),
        tls,
    }
}

fn files(data: &UserData) -> Vec<(String, String, String)> {
    let doc: Value = serde_yaml::from_str(data.as_str()).expect("YAML");
    doc["write_files"]
        .as_sequence()
        .expect("write_files")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("path"), s("permissions"), s("content"))
        })
        .collect()
}

#[test]
fn a_tls_node_gets_its_certificate_key_bundle_and_secure_access() {
    let now = "2026-12-07T12:00:00Z".parse().expect("time");
    let tls = ClusterTls::generate("demo", "uid", &["demo-a-0"], now).expect("material");
    let node_files = tls.node_files("demo-a-0").expect("files");
    let rendered = render_user_data(&node(Some(node_files.clone()))).expect("rendered");
    let files = files(&rendered);
    let find = |path: &str| {
        files
            .iter()
            .find(|f| f.0 == path)
            .unwrap_or_else(|| panic!("{path} in {files:?}"))
            .clone()
    };
    assert_eq!(find(OWN_CERT_PATH).2, node_files.pem);
    let key = find(PRIVATE_KEY_PATH);
    assert_eq!(
        (key.1.as_str(), key.2.as_str()),
        ("0600", node_files.key.as_str())
    );
    assert_eq!(find(CA_PATH).2, tls.bundle());
    assert_eq!(find(SECURE_ACCESS_PATH).2, "");
    // The user-data holds the key, so its Debug (and the bootstrap's) must not.
    assert!(!format!("{rendered:?}").contains("PRIVATE KEY"));
    assert!(!format!("{:?}", node(Some(node_files))).contains("PRIVATE KEY"));
}

#[test]
fn a_plain_node_gets_no_tls_file() {
    let rendered = render_user_data(&node(None)).expect("rendered");
    let paths: Vec<String> = files(&rendered).into_iter().map(|f| f.0).collect();
    for path in [OWN_CERT_PATH, PRIVATE_KEY_PATH, CA_PATH, SECURE_ACCESS_PATH] {
        assert!(!paths.contains(&path.to_string()), "{path} in {paths:?}");
    }
}
